/**
 * A confirmation before anything is revoked or deleted: a modal <dialog> (focus moves into it,
 * Escape cancels) saying what will happen, with an optional reason kept in the audit record.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useFailureHandler } from './pages/common.js';

export interface Confirmation {
  title: string;
  /** What will be revoked or deleted, in words. */
  message: string;
  action: string;
  /** Ask for a reason (kept in the audit record). */
  reason?: boolean;
  run: (reason: string | undefined) => Promise<string>;
}

/**
 * A page's confirmations: `ask` opens the dialog with one; `dialog` is the element to render;
 * once one has run, `done` gets what it said it did (the page shows it and reads its data again).
 */
export function useConfirmation(done: (result: string) => void): { ask: (c: Confirmation) => void; dialog: preact.JSX.Element } {
  const [confirmation, setConfirmation] = useState<Confirmation | undefined>(undefined);
  const dialog = (
    <ConfirmDialog
      confirmation={confirmation}
      onClose={(result) => {
        setConfirmation(undefined);
        if (result) done(result);
      }}
    />
  );
  return { ask: setConfirmation, dialog };
}

/**
 * `children`: more fields for this confirmation, kept by the caller (shown after the reason).
 * A 401 from its call signs out (the console's SignedOut); another failure is said in the dialog.
 */
export function ConfirmDialog({ confirmation, onClose, children }: { confirmation: Confirmation | undefined; onClose: (result?: string) => void; children?: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const failed = useFailureHandler(setError);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (confirmation && !dialog.open) {
      setReason('');
      setError(undefined);
      dialog.showModal();
    } else if (!confirmation && dialog.open) {
      dialog.close();
    }
  }, [confirmation]);
  async function confirm(e: Event) {
    e.preventDefault();
    if (!confirmation) return;
    setBusy(true);
    try {
      onClose(await confirmation.run(reason.trim() === '' ? undefined : reason.trim()));
    } catch (err) {
      failed(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onCancel={() => onClose()} class="confirm">
      {confirmation && (
        <form onSubmit={confirm} method="dialog">
          <h2 id="confirm-title">{confirmation.title}</h2>
          <p data-testid="confirm-message">{confirmation.message}</p>
          {confirmation.reason && (
            <>
              <label for="confirm-reason">Reason (kept in the audit log)</label>
              <input id="confirm-reason" value={reason} maxLength={500} onInput={(e) => setReason(e.currentTarget.value)} />
            </>
          )}
          {children}
          {error && (
            <p role="alert" class="error">
              {error}
            </p>
          )}
          <div class="actions">
            <button type="button" class="secondary" onClick={() => onClose()}>
              Cancel
            </button>
            <button type="submit" class="danger" disabled={busy}>
              {confirmation.action}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
