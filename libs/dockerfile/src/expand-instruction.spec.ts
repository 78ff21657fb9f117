import { parseGoDuration } from './duration';
import { DockerfileSemanticError, ExpansionError } from './errors';
import { expandInstruction } from './expand-instruction';
import { parseInstructions } from './parser';
import { parseRunMount } from './run-mount';
import type { Instruction } from './types';
import { exposedPortKeys, parsePortSpec, validateStopSignal } from './values';

const ENV = { APP: '/srv/app', PORTS: '80 443/tcp', MODE: '0755', OWNER: 'app:app', SIG: 'SIGQUIT', EMPTY: '' };

function instruction(line: string, escape = ''): Instruction {
  const text = `${escape ? `# escape=${escape}\n` : ''}FROM x\n${line}\n`;
  return parseInstructions(text).instructions[1];
}

describe('expandInstruction', () => {
  it('expands COPY sources, destination, --chown and --chmod but never --from', () => {
    const expanded = expandInstruction(instruction('COPY --from=build --chown=$OWNER --chmod=$MODE $APP/a ${APP}/b $APP/'), ENV);
    expect(expanded).toMatchObject({
      from: 'build',
      chown: 'app:app',
      chmod: '0755',
      sources: ['/srv/app/a', '/srv/app/b'],
      destination: '/srv/app/',
    });
  });

  it('expands COPY heredoc files unless the delimiter was quoted, keeping quotes literal', () => {
    const text = 'FROM x\nCOPY <<a <<"b" /d/\necho "$APP" \'$APP\'\na\nkeep $APP\nb\n';
    const copy = parseInstructions(text).instructions[1];
    const expanded = expandInstruction(copy, ENV);
    expect(expanded).toMatchObject({
      heredocSources: [
        { name: 'a', content: `echo "/srv/app" '/srv/app'\n` },
        { name: 'b', content: 'keep $APP\n' },
      ],
    });
  });

  it('expands ENV and LABEL keys and values with one environment', () => {
    const expanded = expandInstruction(instruction('LABEL "app.dir"="$APP" other=\'$APP\''), ENV);
    expect(expanded).toMatchObject({ pairs: [{ key: 'app.dir', value: '/srv/app' }, { key: 'other', value: '$APP' }] });
  });

  it('splits EXPOSE words after expansion and validates them', () => {
    expect(expandInstruction(instruction('EXPOSE $PORTS 53/udp'), ENV)).toMatchObject({ ports: ['80', '443/tcp', '53/udp'] });
    expect(() => expandInstruction(instruction('EXPOSE ${BAD:-http}'), ENV)).toThrow(DockerfileSemanticError);
  });

  it('expands WORKDIR, USER, VOLUME and STOPSIGNAL', () => {
    expect(expandInstruction(instruction('WORKDIR $APP/data'), ENV)).toMatchObject({ path: '/srv/app/data' });
    expect(expandInstruction(instruction('USER ${OWNER}'), ENV)).toMatchObject({ user: 'app:app' });
    expect(expandInstruction(instruction('VOLUME $APP/cache /tmp'), ENV)).toMatchObject({ volumes: ['/srv/app/cache', '/tmp'] });
    expect(expandInstruction(instruction('STOPSIGNAL $SIG'), ENV)).toMatchObject({ signal: 'SIGQUIT' });
    expect(() => expandInstruction(instruction('STOPSIGNAL SIGNOPE'), ENV)).toThrow('invalid signal: SIGNOPE');
    expect(() => expandInstruction(instruction('VOLUME $EMPTY'), ENV)).toThrow('VOLUME specified can not be an empty string');
  });

  it('leaves RUN, CMD and ENTRYPOINT to the shell', () => {
    const run = instruction('RUN echo $APP');
    expect(expandInstruction(run, ENV)).toBe(run);
    const cmd = instruction('CMD ["echo", "$APP"]');
    expect(expandInstruction(cmd, ENV)).toBe(cmd);
  });

  it('honours the escape directive', () => {
    expect(expandInstruction(instruction('WORKDIR c:\\app\\`$APP', '`'), ENV, '`')).toMatchObject({ path: 'c:\\app\\$APP' });
  });

  it('locates expansion errors at the instruction line', () => {
    let caught: unknown;
    try {
      expandInstruction(instruction('WORKDIR ${REQUIRED:?set-it}'), ENV);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ExpansionError);
    expect((caught as ExpansionError).line).toBe(2);
  });
});

describe('parseRunMount', () => {
  it('parses cache mounts with defaults', () => {
    expect(parseRunMount('type=cache,target=/root/.cache,sharing=locked')).toEqual({
      type: 'cache',
      target: '/root/.cache',
      id: '/root/.cache',
      sharing: 'locked',
      readOnly: false,
      required: false,
    });
  });

  it('defaults to a read-only bind mount and expands values when given an environment', () => {
    expect(parseRunMount('target=$APP,from=build,source=/out,rw', { env: ENV })).toEqual({
      type: 'bind',
      target: '/srv/app',
      from: 'build',
      source: '/out',
      readOnly: false,
      required: false,
    });
  });

  it('parses secret and tmpfs mounts', () => {
    expect(parseRunMount('type=secret,id=npmrc,required')).toMatchObject({ type: 'secret', id: 'npmrc', target: '/run/secrets/npmrc', required: true });
    expect(parseRunMount('type=secret,id=tok,env=TOKEN')).toEqual({ type: 'secret', id: 'tok', env: 'TOKEN', readOnly: true, required: false });
    expect(parseRunMount('type=tmpfs,target=/tmp,size=1048576')).toMatchObject({ type: 'tmpfs', sizeBytes: 1048576 });
    expect(parseRunMount('type=cache,target=/c,mode=0700,uid=1000,gid=1000')).toMatchObject({ mode: 0o700, uid: 1000, gid: 1000 });
  });

  it('rejects malformed specs', () => {
    expect(() => parseRunMount('type=volume,target=/x')).toThrow('unsupported mount type "volume"');
    expect(() => parseRunMount('type=cache')).toThrow('mount target is required');
    expect(() => parseRunMount('type=cache,target=/x,color=red', { line: 7 })).toThrow('Dockerfile:7: invalid --mount=type=cache,target=/x,color=red: unexpected key');
    expect(() => parseRunMount('type=cache,target=/x,sharing=sometimes')).toThrow('unsupported sharing value');
  });
});

describe('EXPOSE and STOPSIGNAL values', () => {
  it.each([
    ['80', { start: 80, end: 80, protocol: 'tcp' }],
    ['80/tcp', { start: 80, end: 80, protocol: 'tcp' }],
    ['53/UDP', { start: 53, end: 53, protocol: 'udp' }],
    ['8000-8002/sctp', { start: 8000, end: 8002, protocol: 'sctp' }],
  ])('%s', (text, expected) => {
    expect(parsePortSpec(text)).toEqual(expected);
  });

  it('gives image-config keys, one per port of a range', () => {
    expect(exposedPortKeys(parsePortSpec('8000-8002'))).toEqual(['8000/tcp', '8001/tcp', '8002/tcp']);
  });

  it.each(['http', '80/icmp', '70000', '90-80', '-1', ''])('rejects %j', (text) => {
    expect(() => parsePortSpec(text, 4)).toThrow(DockerfileSemanticError);
  });

  it.each(['SIGTERM', 'TERM', 'sigkill', '9', 'SIGRTMIN+3', 'RTMAX-1'])('accepts signal %s', (signal) => {
    expect(validateStopSignal(signal)).toBe(signal);
  });

  it.each(['SIGFOO', '0', '65', 'SIGRTMIN+31', ''])('rejects signal %j', (signal) => {
    expect(() => validateStopSignal(signal)).toThrow(DockerfileSemanticError);
  });
});

describe('parseGoDuration', () => {
  it.each([
    ['30s', 30e9],
    ['1m30s', 90e9],
    ['1.5h', 5400e9],
    ['250ms', 250e6],
    ['10us', 10e3],
    ['10µs', 10e3],
    ['0', 0],
    ['-2s', -2e9],
    ['.5s', 0.5e9],
  ])('%s → %d ns', (text, ns) => {
    expect(parseGoDuration(text)).toBe(ns);
  });

  it.each(['', '5', 's', '1d', '1.s.', '--1s'])('rejects %j', (text) => {
    expect(() => parseGoDuration(text)).toThrow();
  });
});
