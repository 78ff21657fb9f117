import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { addressRefusal, checkedAddress, fetchChecked, UrlRefusedError } from './url-fetch';

const strict = { allowPrivateNetworks: false };
const lenient = { allowPrivateNetworks: true };

describe('ADD <url> address policy', () => {
  it.each([
    ['127.0.0.1', /loopback/],
    ['127.9.9.9', /loopback/],
    ['::1', /loopback/],
    ['::ffff:127.0.0.1', /loopback/],
    ['169.254.169.254', /link-local/],
    ['fe80::1', /link-local/],
    ['0.0.0.0', /unspecified/],
    ['224.0.0.1', /multicast/],
  ])('always refuses %s', (address, rule) => {
    expect(addressRefusal(address, lenient, [])).toMatch(rule);
  });

  it.each(['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', 'fd00::1', '::ffff:10.0.0.1'])('refuses private %s unless allowed', (address) => {
    expect(addressRefusal(address, strict, [])).toMatch(/private network range \(MUELLE_BUILD_ALLOW_PRIVATE_NETWORKS=false\)/);
    expect(addressRefusal(address, lenient, [])).toBeNull();
  });

  it.each(['1.1.1.1', '172.32.0.1', '2606:4700::1111', '100.128.0.1'])('allows public %s', (address) => {
    expect(addressRefusal(address, strict, [])).toBeNull();
  });

  it("refuses the host's own addresses and the platform's, even where private ranges are allowed", () => {
    expect(addressRefusal('203.0.113.7', lenient, ['203.0.113.7'])).toMatch(/platform's own addresses/);
    expect(addressRefusal('203.0.113.8', { ...lenient, platformAddresses: ['203.0.113.8'] }, [])).toMatch(/platform's own addresses/);
    // By default the host's interfaces are read: loopback aside, every one of them is refused.
    const own = Object.values(networkInterfaces()).flatMap((l) => l ?? []).find((a) => !a.internal && a.family === 'IPv4');
    if (own) expect(addressRefusal(own.address, lenient)).toMatch(/platform's own|private|link-local/);
  });

  it('resolves names and refuses when any address is refused; only http(s)', async () => {
    await expect(checkedAddress(new URL('http://localhost:7101/metrics'), lenient, [])).rejects.toThrow(/localhost resolves to (127\.0\.0\.1|::1) is a loopback address/);
    await expect(checkedAddress(new URL('file:///etc/passwd'), lenient, [])).rejects.toThrow(/only http and https/);
    await expect(checkedAddress(new URL('http://[::1]:80/'), lenient, [])).rejects.toThrow(UrlRefusedError);
  });
});

describe('fetchChecked redirects', () => {
  let secretHits = 0;
  const secret = createServer((_req, res) => {
    secretHits++;
    res.end('platform secret');
  });
  let secretPort: number;
  // Stands in for an allowed outside server: `files.example` resolves (test resolver) to a public
  // documentation address, which the policy allows; the dial seam then reaches it on 127.0.0.1.
  const outside: Server = createServer((req, res) => {
    if (req.url === '/to-loopback') return void res.writeHead(302, { location: `http://127.0.0.1:${secretPort}/metrics` }).end();
    if (req.url === '/to-localhost') return void res.writeHead(302, { location: `http://localhost:${secretPort}/metrics` }).end();
    if (req.url === '/to-metadata') return void res.writeHead(301, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    if (req.url === '/hop') return void res.writeHead(307, { location: '/file' }).end();
    if (req.url === '/loop') return void res.writeHead(302, { location: '/loop' }).end();
    res.end(`file via ${req.headers.host}`);
  });
  let base: string;
  const PUBLIC = '198.51.100.7';
  const options = () => ({
    ownAddresses: [],
    resolve: async (host: string) => [{ address: host === 'files.example' ? PUBLIC : '127.0.0.1', family: 4 as const }],
    dial: (checked: { address: string; family: 4 | 6 }) => (checked.address === PUBLIC ? { address: '127.0.0.1', family: 4 as const } : checked),
  });

  beforeAll(async () => {
    await new Promise<void>((r) => secret.listen(0, '127.0.0.1', () => r()));
    secretPort = (secret.address() as AddressInfo).port;
    await new Promise<void>((r) => outside.listen(0, '127.0.0.1', () => r()));
    base = `http://files.example:${(outside.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => secret.close(r));
    await new Promise((r) => outside.close(r));
  });

  const text = async (url: string) => {
    const response = await fetchChecked(url, strict, options());
    let body = '';
    for await (const chunk of response) body += chunk;
    return body;
  };

  it('follows a redirect to an allowed place, keeping the URL host in the request', async () => {
    expect(await text(`${base}/hop`)).toBe(`file via ${new URL(base).host}`);
  });

  it('refuses a redirect into loopback (by address or by name) before connecting there', async () => {
    await expect(text(`${base}/to-loopback`)).rejects.toThrow(`http://127.0.0.1:${secretPort}/metrics refused: 127.0.0.1 is a loopback address`);
    await expect(text(`${base}/to-localhost`)).rejects.toThrow(`http://localhost:${secretPort}/metrics refused: localhost resolves to 127.0.0.1 is a loopback address`);
    expect(secretHits).toBe(0);
  });

  it('refuses a redirect to the metadata address', async () => {
    await expect(text(`${base}/to-metadata`)).rejects.toThrow(/169\.254\.169\.254 is a link-local address/);
  });

  it('stops after 5 redirects', async () => {
    await expect(text(`${base}/loop`)).rejects.toThrow('more than 5 redirects');
  });
});
