import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The viewer may talk only to this server; inline scripts and styles are not used. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

interface StaticFile {
  readonly type: string;
  readonly body: Buffer;
}

/**
 * The viewer's files from web/, read once at start: a request can only ever get one of them, so no
 * path from a URL reaches the file system.
 */
export class StaticFiles {
  private readonly files = new Map<string, StaticFile>();

  /** Without a web/ folder (a build shipped without it) the viewer is simply not served. */
  constructor(root: string | undefined = findWebRoot()) {
    if (root === undefined) return;
    for (const name of readdirSync(root)) {
      const type = TYPES[path.extname(name)];
      if (type) this.files.set(`/${name}`, { type, body: readFileSync(path.join(root, name)) });
    }
  }

  /** Answers the request when the path names a file (`/` is index.html); false otherwise. */
  serve(res: ServerResponse, pathname: string): boolean {
    const file = this.files.get(pathname === '/' ? '/index.html' : pathname);
    if (!file) return false;
    res.writeHead(200, {
      'content-type': file.type, 'content-length': file.body.length, 'cache-control': 'no-cache', ...SECURITY_HEADERS,
    });
    res.end(file.body);
    return true;
  }
}

/** The repository's web/ folder, found from src/ (tsx) and from dist/src/ (compiled) alike. */
function findWebRoot(): string | undefined {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'web', 'index.html'))) return path.join(dir, 'web');
  }
  return undefined;
}
