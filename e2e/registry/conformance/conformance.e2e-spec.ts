import { RegistryTarget, startDistribution, startMuelle } from '../targets';
import { describeConformance } from './suite';

// One run, two registries: Muelle (auth on, as shipped) and CNCF Distribution 2.8 (Debian's
// docker-registry), which shows the suite itself is right. Distribution 2.8 predates parts of
// OCI distribution v1.1; those requirements are listed here and must FAIL on it.
const DISTRIBUTION_2_8_GAPS: Record<string, string> = {
  'R-DISC-4': 'no referrers API (added in v1.1)',
  'R-DISC-5': 'no referrers API (added in v1.1)',
  'R-DISC-6': 'no referrers API (added in v1.1)',
  'R-DEL-4': 'no referrers API (added in v1.1)',
  'R-MAN-8': 'does not send OCI-Subject (added in v1.1)',
  'R-PULL-4': 'answers 500 to a malformed digest reference',
  'R-PUSH-3': 'accepts an out-of-order first chunk (order checks came with Distribution 3)',
  'R-PUSH-6': 'stores a sha512 upload under its sha256 digest',
  'R-PUSH-9': 'answers BLOB_UPLOAD_INVALID for an upload URL without its _state token',
  'R-MAN-6': 'answers 500 to a manifest with a non-distributable layer',
  'R-MAN-7': 'has no manifest size limit (answers 400 above 4 MiB, not 413)',
  'R-DISC-1': 'lists tags unsorted',
  'R-DISC-2': 'ignores n (pagination came with Distribution 3)',
  'R-DISC-3': 'ignores last (pagination came with Distribution 3)',
  'R-DEL-1': 'cannot delete a tag alone (400 UNSUPPORTED)',
};

describe('OCI distribution conformance', () => {
  let muelle: RegistryTarget | undefined;
  let distribution: RegistryTarget | undefined;

  beforeAll(async () => {
    [muelle, distribution] = await Promise.all([startMuelle(), startDistribution()]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([muelle?.stop(), distribution?.stop()]);
  });

  describe('Muelle', () => describeConformance('muelle', () => muelle!));
  describe('CNCF Distribution 2.8', () => describeConformance('distribution', () => distribution!, DISTRIBUTION_2_8_GAPS));
});
