import { InvalidArgumentError } from '@muelle/contracts';
import { z } from 'zod';
import { CreateContainerBody, ListContainersQuery } from '../containers/containers.schemas';
import { parseRequest } from './validation';

describe('request validation', () => {
  it('names the first bad field with its path and lists every issue', () => {
    let error: InvalidArgumentError | undefined;
    try {
      parseRequest(CreateContainerBody, { image: '', ports: [{ hostPort: -1, containerPort: 80 }] });
    } catch (e) {
      error = e as InvalidArgumentError;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error!.message).toMatch(/^body\.image: /);
    expect((error!.details as { issues: Array<{ field: string }> }).issues.map((i) => i.field)).toEqual(['body.image', 'body.ports.0.hostPort']);
  });

  it('reads query strings: booleans from "false", repeated keys as lists', () => {
    const query = parseRequest(ListContainersQuery, { all: 'false', label: 'a=b', state: ['running', 'exited'] }, 'query');
    expect(query).toMatchObject({ all: false, label: ['a=b'], state: ['running', 'exited'], limit: 100 });
    expect(() => parseRequest(ListContainersQuery, { state: 'sleeping' }, 'query')).toThrow(/^query\.state\.0: /);
    expect(() => parseRequest(z.object({ n: z.coerce.number().max(3) }), { n: '9' }, 'query')).toThrow(/query\.n/);
  });
});
