/** The release of every Muelle process and of the CLI (reported by /v1/version, /healthz and `muelle version`). */
export const MUELLE_VERSION = '0.1.0';
