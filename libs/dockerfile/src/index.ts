export * from './errors';
export * from './types';
export { parseDockerfile, parseInstructions, type ParsedInstructions } from './parser';
export {
  expand,
  expandWords,
  expandDetailed,
  toLookup,
  type EscapeChar,
  type ExpandOptions,
  type ExpansionEnv,
  type ExpansionResult,
} from './expand';
export { expandInstruction, EXPANDING_KINDS } from './expand-instruction';
export { ArgEnvScope, type ArgEnvScopeOptions } from './arg-env-scope';
export {
  resolveStages,
  type ResolveOptions,
  type ResolvedBuild,
  type ResolvedStage,
  type StageBase,
  type StageDependency,
  type ExternalImageReference,
} from './stages';
export {
  DEFAULT_PLATFORM,
  parsePlatform,
  formatPlatform,
  platformArgs,
  PROXY_ARG_NAMES,
  isProxyArg,
  isBuiltinBuildArg,
  type Platform,
} from './platform';
export { parseRunMount, type RunMount, type ParseRunMountOptions } from './run-mount';
export { parsePortSpec, exposedPortKeys, validateStopSignal, type PortSpec } from './values';
export { parseGoDuration } from './duration';
export {
  parseDockerignore,
  createIgnoreMatcher,
  readDockerignorePatterns,
  cleanPath,
  type DockerignoreMatcher,
  type DockerignorePattern,
} from './dockerignore';
