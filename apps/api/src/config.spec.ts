import { z } from 'zod';
import { apiConfigShape } from './config';

describe('MUELLE_ALLOWED_ORIGINS', () => {
  const parse = (value?: string) => z.object(apiConfigShape).safeParse(value === undefined ? {} : { MUELLE_ALLOWED_ORIGINS: value });

  it('reads a comma-separated list of origins (none by default)', () => {
    expect(parse().data?.MUELLE_ALLOWED_ORIGINS).toEqual([]);
    expect(parse(' https://console.example.com, http://127.0.0.1:8080 ').data?.MUELLE_ALLOWED_ORIGINS).toEqual(['https://console.example.com', 'http://127.0.0.1:8080']);
  });

  it.each(['console.example.com', 'https://console.example.com/app', 'ftp://x.example', '*'])('refuses %s at start, naming it', (value) => {
    const result = parse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0].message).toContain(`"${value}" is not an origin`);
  });
});
