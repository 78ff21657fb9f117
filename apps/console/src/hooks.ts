import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { PlatformEvent, subscribeEvents } from './api';

export interface Resource<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/** Loads `loader()` now and whenever `deps` change; `reload` loads again, keeping the old data shown meanwhile. */
export function useResource<T>(loader: () => Promise<T>, deps: unknown[]): Resource<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const generation = useRef(0);
  const load = useCallback(() => {
    const mine = ++generation.current;
    setState((previous) => ({ ...previous, loading: true }));
    loader().then(
      (data) => mine === generation.current && setState({ data, loading: false }),
      (error: Error) => mine === generation.current && setState((previous) => ({ data: previous.data, error, loading: false })),
    );
  }, deps);
  useEffect(load, [load]);
  return { data: state.data, error: state.error, loading: state.loading, reload: load };
}

/** Calls `onEvent` for every live platform event while the component is shown. */
export function useEvents(onEvent: (event: PlatformEvent) => void): boolean {
  const [open, setOpen] = useState(false);
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => subscribeEvents((event) => handler.current(event), setOpen), []);
  return open;
}

/** `fn` at most once per `ms`, the last call winning (a burst of events → one reload). */
export function useThrottled(fn: () => void, ms: number): () => void {
  const timer = useRef<number | undefined>(undefined);
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => () => window.clearTimeout(timer.current), []);
  return useCallback(() => {
    if (timer.current !== undefined) return;
    timer.current = window.setTimeout(() => {
      timer.current = undefined;
      latest.current();
    }, ms);
  }, [ms]);
}
