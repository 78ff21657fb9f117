import { InProcessBroker } from './in-process-broker';
import { describeBusTransport } from './testing/bus-transport.suite';

const broker = new InProcessBroker();
describeBusTransport('in-process', () => ({ kind: 'in-process', broker }));
