import { containerStatus, humanSize, ports, table, taskError } from './format';

describe('docker-like output', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');

  it('words container states as docker ps does', () => {
    expect(containerStatus({ state: 'running', startedAt: '2026-01-01T11:57:00Z', finishedAt: null, exitCode: null }, now)).toBe('Up 3 minutes');
    expect(containerStatus({ state: 'exited', startedAt: null, finishedAt: '2026-01-01T11:59:58Z', exitCode: 137 }, now)).toBe('Exited (137) 2 seconds ago');
    expect(containerStatus({ state: 'created', startedAt: null, finishedAt: null, exitCode: null }, now)).toBe('Created');
  });

  it("words a failed service task's error as swarm's service ps does", () => {
    expect(taskError({ state: 'running', exitCode: null, health: 'healthy' })).toBe('');
    expect(taskError({ state: 'exited', exitCode: 0 })).toBe('');
    expect(taskError({ state: 'exited', exitCode: 3 })).toBe('task: non-zero exit (3)');
    expect(taskError({ state: 'running', exitCode: null, health: 'unhealthy' })).toBe('task: container unhealthy');
    expect(taskError({ state: 'lost', exitCode: null })).toBe('task: host down');
  });

  it('aligns table columns and sizes with decimal units', () => {
    expect(
      table(
        ['A', 'LONGER'],
        [
          ['xyz', '1'],
          ['', '22'],
        ],
      ),
    ).toBe('A     LONGER\nxyz   1\n      22\n');
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(1_234_567)).toBe('1.23MB');
    expect(ports([{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'tcp' }], '10.0.0.2')).toBe('10.0.0.2:8080->80/tcp');
  });
});
