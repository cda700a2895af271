// Files the management server keeps in the data directory; the CLI reads them to find the daemon.
/** The bearer token, mode 0600, created at first start and kept across restarts. */
export const TOKEN_FILE = "api-token";
/** The URL the running daemon's API listens on (removed at clean shutdown). */
export const API_URL_FILE = "api-url";
