import { useState, type ReactNode } from 'react';
import { Modal } from './Modal';

/** A destructive action: the operator retypes the target's name before the button arms. */
export function ConfirmTyped({
  title,
  expected,
  action,
  children,
  onConfirm,
  onClose,
  busy,
}: {
  title: string;
  expected: string;
  action: string;
  children?: ReactNode;
  onConfirm(typed: string): void;
  onClose(): void;
  busy?: boolean;
}) {
  const [typed, setTyped] = useState('');
  const armed = typed === expected && !busy;
  return (
    <Modal
      title={title}
      onClose={onClose}
      testId="confirm-dialog"
      footer={
        <>
          <button className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-danger" disabled={!armed} onClick={() => onConfirm(typed)} data-testid="confirm-action">
            {busy ? 'Working…' : action}
          </button>
        </>
      }
    >
      {children}
      <div className="field">
        <label htmlFor="confirm-typed">
          Type <code>{expected}</code> to confirm
        </label>
        <input
          id="confirm-typed"
          type="text"
          autoComplete="off"
          spellCheck={false}
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && armed) onConfirm(typed);
          }}
          data-testid="confirm-input"
        />
      </div>
    </Modal>
  );
}
