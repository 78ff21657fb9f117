import { randomInt } from 'node:crypto';

// Docker-style friendly names (`brave_pike`) for containers created without --name.
const ADJECTIVES = ['agile', 'bold', 'brave', 'bright', 'calm', 'clever', 'eager', 'fair', 'fond', 'gentle', 'happy', 'keen', 'kind', 'lucid', 'merry', 'nimble', 'proud', 'quick', 'quiet', 'sharp', 'steady', 'sunny', 'swift', 'tidy', 'vivid', 'warm', 'wise', 'witty', 'zen', 'zesty'];
const NOUNS = ['anchor', 'barge', 'beacon', 'buoy', 'cargo', 'crane', 'dock', 'ferry', 'harbor', 'hull', 'jetty', 'keel', 'lantern', 'mast', 'pier', 'quay', 'rudder', 'sail', 'skiff', 'tide', 'wharf', 'pike', 'gull', 'heron', 'otter', 'pelican', 'seal', 'tern', 'whale', 'wave'];

export function friendlyName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NOUNS[randomInt(NOUNS.length)]}`;
}
