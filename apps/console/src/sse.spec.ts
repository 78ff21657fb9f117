import { sseData } from './sse';

describe('sseData', () => {
  it("reads each event's data, skipping comments and keep-alives, across data lines", () => {
    const text = ': keep-alive\n\nevent: service\ndata: {"id":"a","n":1}\n\nevent: service\ndata: {"id":"b",\ndata: "n":2}\n\n';
    expect(sseData(text)).toEqual([
      { id: 'a', n: 1 },
      { id: 'b', n: 2 },
    ]);
    expect(sseData('')).toEqual([]);
  });
});
