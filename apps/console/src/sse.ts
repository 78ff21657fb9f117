/** The `data:` of each Server-Sent Event in `text` (a whole stream, as `GET /v1/events?until=` sends it), parsed as JSON. */
export function sseData<T>(text: string): T[] {
  const events: T[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (data) events.push(JSON.parse(data) as T);
  }
  return events;
}
