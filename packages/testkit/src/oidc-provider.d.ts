/**
 * Minimal typings for the parts of oidc-provider 9 the testkit uses.
 * oidc-provider ships no TypeScript declarations of its own.
 */
declare module 'oidc-provider' {
  type IncomingMessage = import('node:http').IncomingMessage;
  type ServerResponse = import('node:http').ServerResponse;

  /** The slice of a Koa context the testkit middleware touches. */
  export interface KoaContext {
    method: string;
    path: string;
    url: string;
    querystring: string;
    status: number;
    body: unknown;
    type: string;
    req: IncomingMessage;
    res: ServerResponse;
    get(field: string): string;
    set(field: string, value: string): void;
    redirect(url: string): void;
    /** Set by oidc-provider on the routes it owns; absent elsewhere. */
    readonly oidc?:
      | {
          body?: Record<string, unknown>;
          /** The request's recognised parameters (token endpoint: the grant's). */
          params?: Record<string, unknown>;
          /** The authenticated client. */
          client?: ClientInstance;
        }
      | undefined;
  }

  export type KoaNext = () => Promise<void>;
  export type KoaMiddleware = (ctx: KoaContext, next: KoaNext) => Promise<void>;

  /** What `interactionDetails` resolves to. */
  export interface InteractionDetails {
    uid: string;
    returnTo: string;
    prompt: {
      name: string;
      reasons: string[];
      details: {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
        [key: string]: unknown;
      };
    };
    params: Record<string, unknown> & { client_id: string; scope?: string };
    session?: { accountId?: string; uid?: string } | undefined;
    grantId?: string | undefined;
  }

  export interface GrantInstance {
    accountId: string;
    clientId: string;
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface GrantClass {
    new (properties: { accountId: string; clientId: string }): GrantInstance;
    find(id: string): Promise<GrantInstance | undefined>;
  }

  /** An instance of the provider's Client model. */
  export interface ClientInstance {
    clientId: string;
    applicationType: string;
    redirectUris: string[];
    clientAuthMethod: string;
    grantTypeAllowed(type: string): boolean;
    redirectUriAllowed(value: string): boolean;
  }

  export interface ClientClass {
    prototype: ClientInstance;
  }

  export type AdapterPayload = Record<string, unknown> & {
    accountId?: string;
    grantId?: string;
    uid?: string;
    userCode?: string;
    consumed?: number;
  };

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  /** An access token issued to a client for itself (the client credentials model). */
  export interface ClientCredentialsInstance {
    resourceServer?: unknown;
    scope?: string;
    readonly expiration: number;
    save(): Promise<string>;
  }

  /** oidc-provider's OAuth error classes (`errors.InvalidGrant`...). */
  export const errors: Record<
    'InvalidGrant' | 'InvalidClient' | 'InvalidTarget' | 'InvalidRequest',
    new (
      description?: string,
    ) => Error
  >;

  export default class Provider {
    constructor(issuer: string, configuration?: Record<string, unknown>);
    readonly issuer: string;
    readonly Grant: GrantClass;
    readonly Client: ClientClass;
    readonly ClientCredentials: new (properties: {
      client: ClientInstance;
      scope?: string;
    }) => ClientCredentialsInstance;
    readonly ResourceServer: new (
      identifier: string,
      info: Record<string, unknown>,
    ) => unknown;
    /** Adds a grant type handled by `handler`, with the token request parameters it reads. */
    registerGrantType(
      name: string,
      handler: (ctx: KoaContext) => Promise<void>,
      params?: string[],
      dupes?: string[],
    ): void;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    use(fn: KoaMiddleware): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionResult(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<string>;
  }
}
