/** Progress of the MCP authorization flow (the `mcp` strategy). */
export type McpEvent =
  | {
      type: 'resource_metadata_discovered';
      providerId: string;
      resource: string;
      authorizationServers: readonly string[];
    }
  | {
      type: 'client_registered';
      providerId: string;
      issuer: string;
      method: 'pre-registered' | 'metadata-document' | 'dynamic';
    }
  | { type: 'step_up_requested'; providerId: string; scopes: readonly string[] };
