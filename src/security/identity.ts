/** An authenticated caller: from a JWT's claims or a client certificate's subject. */
export interface Identity {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
}

/** With security off every caller is this one: the service behaves as a trusted local tool. */
export const LOCAL_ADMIN: Identity = { subject: 'local', roles: ['admin'], scopes: [] };
