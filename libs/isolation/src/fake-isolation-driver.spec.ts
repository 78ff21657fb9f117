import { CommandNotFoundError, NamespaceError } from './errors';
import { FakeIsolationDriver } from './fake-isolation-driver';

describe('FakeIsolationDriver', () => {
  it('runs scripted containers with streams and exit codes', async () => {
    const driver = new FakeIsolationDriver().onRun((p) => {
      p.stdout.write('hello\n');
      p.exit(3);
    });
    const c = await driver.run({ rootfs: '/r', args: ['echo'] });
    expect((c.stdout!.read() as Buffer).toString()).toBe('hello\n');
    expect(await c.wait()).toEqual({ exitCode: 3 });
    expect(driver.containers).toHaveLength(1);
    expect(driver.containers[0].spec.args).toEqual(['echo']);
  });

  it('ends with 128+n on killing signals and records every signal', async () => {
    const driver = new FakeIsolationDriver();
    const c = await driver.run({ rootfs: '/r', args: ['sleep'] });
    c.signal('SIGWINCH');
    c.signal('SIGTERM');
    expect(await c.wait()).toEqual({ exitCode: 143, signal: 'SIGTERM' });
    expect(driver.containers[0].signals).toEqual(['SIGWINCH', 'SIGTERM']);
  });

  it('fails queued runs with the given typed error', async () => {
    const driver = new FakeIsolationDriver().failNext(new CommandNotFoundError('exec: nope', 'exec', 2, 127));
    await expect(driver.run({ rootfs: '/r', args: ['nope'] })).rejects.toThrow(CommandNotFoundError);
    await expect(driver.run({ rootfs: '/r', args: ['ok'] })).resolves.toBeDefined();
  });

  it('execs only into running containers', async () => {
    const driver = new FakeIsolationDriver();
    const c = await driver.run({ rootfs: '/r', args: ['sleep'], tty: true });
    const e = await driver.exec(c.pid, { args: ['ps'] });
    expect(driver.execs[0].containerPid).toBe(c.pid);
    driver.execs[0].exit(0);
    expect(await e.wait()).toEqual({ exitCode: 0 });
    c.resize(40, 100);
    expect(driver.containers[0].resizes).toEqual([{ rows: 40, cols: 100 }]);
    driver.containers[0].exit(0);
    await expect(driver.exec(c.pid, { args: ['ps'] })).rejects.toThrow(NamespaceError);
  });

  it('calls beforeStart with the pid', async () => {
    const seen: number[] = [];
    const c = await new FakeIsolationDriver().run({ rootfs: '/r', args: ['x'], beforeStart: async (pid) => void seen.push(pid) });
    expect(seen).toEqual([c.pid]);
  });
});
