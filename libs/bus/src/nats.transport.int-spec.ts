import { NATS_TEST_URL } from '@muelle/testing';
import { describeBusTransport } from './testing/bus-transport.suite';

describeBusTransport('nats', () => ({ kind: 'nats', url: NATS_TEST_URL }));
