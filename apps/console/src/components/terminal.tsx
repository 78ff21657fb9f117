import { CanvasAddon } from '@xterm/addon-canvas';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, currentCsrf } from '../api';

// Frame types of the api's terminal WebSocket (apps/api/src/containers/terminal.gateway.ts).
const FRAME = { stdin: 0, stdout: 1, stderr: 2, resize: 3, exit: 5, error: 6 } as const;

/**
 * A shell in the container: `POST /v1/containers/:ref/exec` with a TTY, then the exec WebSocket.
 * Resizes follow the element's size. The canvas renderer is used because xterm's DOM renderer
 * injects <style> elements, which the console's Content-Security-Policy forbids.
 */
export function ExecTerminal({ containerId, command }: { containerId: string; command: string[] }) {
  const host = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState('connecting');
  useEffect(() => {
    // screenReaderMode mirrors the screen into an accessible DOM tree (read by assistive technology, and by the e2e test).
    const terminal = new Terminal({ cursorBlink: true, fontSize: 13, screenReaderMode: true, fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace' });
    const fit = new FitAddon();
    terminal.loadAddon(fit);
    terminal.loadAddon(new CanvasAddon());
    terminal.open(host.current!);
    fit.fit();
    let socket: WebSocket | undefined;
    let closed = false;
    const encoder = new TextEncoder();
    const send = (type: number, payload: Uint8Array) => {
      if (socket?.readyState !== WebSocket.OPEN) return;
      const frame = new Uint8Array(payload.length + 1);
      frame[0] = type;
      frame.set(payload, 1);
      socket.send(frame);
    };
    const sendSize = () => send(FRAME.resize, encoder.encode(JSON.stringify({ rows: terminal.rows, cols: terminal.cols })));
    const observer = new ResizeObserver(() => {
      fit.fit();
      sendSize();
    });
    observer.observe(host.current!);
    terminal.onData((data) => send(FRAME.stdin, encoder.encode(data)));
    (async () => {
      try {
        const exec = await api<{ id: string }>(`/v1/containers/${encodeURIComponent(containerId)}/exec`, { body: { cmd: command, tty: true, stdin: true } });
        if (closed) return;
        const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
        const params = new URLSearchParams({ rows: String(terminal.rows), cols: String(terminal.cols), csrf: currentCsrf() });
        socket = new WebSocket(`${scheme}://${window.location.host}/v1/containers/${encodeURIComponent(containerId)}/exec/${exec.id}/ws?${params}`);
        socket.binaryType = 'arraybuffer';
        socket.onopen = () => {
          setStatus('connected');
          terminal.focus();
        };
        socket.onmessage = (message) => {
          const bytes = new Uint8Array(message.data as ArrayBuffer);
          const payload = bytes.subarray(1);
          if (bytes[0] === FRAME.stdout || bytes[0] === FRAME.stderr) terminal.write(payload);
          else if (bytes[0] === FRAME.exit) setStatus(`exited with code ${JSON.parse(new TextDecoder().decode(payload)).exitCode}`);
          else if (bytes[0] === FRAME.error) setStatus(`error: ${JSON.parse(new TextDecoder().decode(payload)).message}`);
        };
        socket.onclose = () => setStatus((s) => (s === 'connected' || s === 'connecting' ? 'closed' : s));
      } catch (error) {
        setStatus(`error: ${(error as Error).message}`);
      }
    })();
    return () => {
      closed = true;
      observer.disconnect();
      socket?.close();
      terminal.dispose();
    };
  }, [containerId, command.join('\0')]);
  return (
    <div class="terminal-wrap">
      <p class="muted" role="status" data-terminal-status={status}>
        {command.join(' ')} — {status}
      </p>
      <div class="terminal" ref={host} aria-label="Terminal" />
    </div>
  );
}
