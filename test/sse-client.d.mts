export interface OpenStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as received so far (for an error answer, its JSON). */
  text(): string;
  /** The cursors (`id:`) of the revocation events received, in order. */
  ids: number[];
  /** Comment lines (`: connected`, `: heartbeat`, …) without the colon. */
  comments: string[];
  /** Resolves when the server ends the response (or the socket closes). */
  ended: Promise<void>;
  isEnded(): boolean;
  close(): void;
}

export function openStream(baseUrl: string, authorization: string, lastEventId?: number): Promise<OpenStream>;
