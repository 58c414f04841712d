import stringify from 'safe-stable-stringify';
import type { Metadata } from '../domain/event.js';

/** Metadata keys whose values are PII whatever they look like (compared case-insensitively, `-`/`_` ignored). */
export const DEFAULT_PII_KEYS = [
  'phone', 'phonenumber', 'mobile', 'ani', 'dnis', 'callerid', 'email', 'emailaddress', 'cardnumber', 'pan', 'creditcard',
  'ssn', 'nationalid', 'taxid', 'ip', 'ipaddress', 'clientip', 'name', 'firstname', 'lastname', 'fullname', 'customername',
];

const EMAIL = /^[^\s@]+@([^\s@]+\.[^\s@]+)$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/;
const CARD = /^(?:\d[ -]?){13,19}$/;
const PHONE = /^\+?[\d\s().-]{7,20}$/;
const NATIONAL_ID = /^\d{3}-?\d{2}-?\d{4}$/;

const normalise = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');

/** Masks one value by what it looks like; undefined when it looks like no PII. */
function maskByShape(value: string): string | undefined {
  const email = EMAIL.exec(value);
  if (email) return `****@${email[1]}`;
  const ip = IPV4.exec(value);
  if (ip) return `${ip[1]}.${ip[2]}.*.*`;
  if (NATIONAL_ID.test(value)) return `***-**-${value.replace(/\D/g, '').slice(-4)}`;
  if (CARD.test(value)) return `****${value.replace(/\D/g, '').slice(-4)}`;
  if (PHONE.test(value) && value.replace(/\D/g, '').length >= 7) return `${value.slice(0, 6)}****`;
  return undefined;
}

/** A value under a PII key: masked by its shape, else names become initials, anything else `****`. */
function maskKnown(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value === null || typeof value === 'object' ? value : '****';
  const shaped = maskByShape(value);
  if (shaped) return shaped;
  if (key.includes('name')) return value.split(/\s+/).filter(Boolean).map((part) => `${part[0]}.`).join(' ');
  return '****';
}

/**
 * Masks PII in metadata, per the event catalog: phone numbers keep their first 6 characters, e-mail
 * addresses their domain, card numbers and national ids their last 4 digits, IP addresses their first
 * two octets, names their initials. Values under the configured keys are masked whatever they look
 * like; other string values are masked when they look like one of those. Returns a new object.
 */
export class Redactor {
  private readonly keys: ReadonlySet<string>;

  constructor(keys: readonly string[] = DEFAULT_PII_KEYS) {
    this.keys = new Set(keys.map(normalise));
  }

  redact(metadata: Metadata): Metadata {
    return this.walk(metadata, '') as Metadata;
  }

  /** Whether a top-level metadata value is personal data: redaction would change it. */
  isPersonal(key: string, value: unknown): boolean {
    return stringify(this.walk(value, normalise(key))) !== stringify(value);
  }

  private walk(value: unknown, key: string): unknown {
    if (Array.isArray(value)) return value.map((v) => this.walk(v, key));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.walk(v, normalise(k))]));
    }
    if (this.keys.has(key)) return maskKnown(key, value);
    return typeof value === 'string' ? (maskByShape(value) ?? value) : value;
  }
}
