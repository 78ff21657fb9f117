import { crossSiteRefusal } from './origin-policy';

describe('crossSiteRefusal', () => {
  const allowed = ['https://console.example.com'];

  it('lets non-browser clients (no Origin, no Sec-Fetch-Site) and safe methods through', () => {
    expect(crossSiteRefusal('POST', { host: '127.0.0.1:2375' }, allowed)).toBeNull();
    expect(crossSiteRefusal('GET', { host: '127.0.0.1:2375', origin: 'http://evil.example' }, allowed)).toBeNull();
  });

  it('refuses a state-changing request from another origin, naming it', () => {
    expect(crossSiteRefusal('POST', { host: '127.0.0.1:2375', origin: 'http://evil.example' }, allowed)).toMatch(/http:\/\/evil\.example/);
    expect(crossSiteRefusal('DELETE', { host: '127.0.0.1:2375', origin: 'null' }, allowed)).toMatch(/null/);
    expect(crossSiteRefusal('POST', { host: '127.0.0.1:2375', origin: 'http://127.0.0.1:2376' }, allowed)).not.toBeNull();
  });

  it("allows the api's own origin and the configured ones", () => {
    expect(crossSiteRefusal('POST', { host: '127.0.0.1:2375', origin: 'http://127.0.0.1:2375' }, allowed)).toBeNull();
    expect(crossSiteRefusal('POST', { host: 'muelle.example.com', origin: 'https://muelle.example.com' }, allowed)).toBeNull();
    expect(crossSiteRefusal('POST', { host: '[::1]:2375', origin: 'http://[::1]:2375' }, allowed)).toBeNull();
    expect(crossSiteRefusal('PATCH', { host: '127.0.0.1:2375', origin: 'https://console.example.com', 'sec-fetch-site': 'cross-site' }, allowed)).toBeNull();
  });

  it('refuses Sec-Fetch-Site: cross-site without an Origin', () => {
    expect(crossSiteRefusal('POST', { host: '127.0.0.1:2375', 'sec-fetch-site': 'cross-site' }, allowed)).toMatch(/Sec-Fetch-Site/);
    expect(crossSiteRefusal('POST', { host: '127.0.0.1:2375', 'sec-fetch-site': 'same-origin' }, allowed)).toBeNull();
  });

  it('checks WebSocket upgrades whatever their method', () => {
    expect(crossSiteRefusal('GET', { host: '127.0.0.1:2375', origin: 'http://evil.example' }, allowed, true)).not.toBeNull();
    expect(crossSiteRefusal('GET', { host: '127.0.0.1:2375', origin: 'http://127.0.0.1:2375' }, allowed, true)).toBeNull();
  });
});
