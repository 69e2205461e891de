import { useState } from 'react';
import { Icon } from '../shell/Icon';

/** Copies a value to the clipboard; says so for two seconds. */
export function CopyButton({ value, label = 'Copy' }: { value: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="btn btn-small"
      onClick={() => {
        void navigator.clipboard?.writeText(value).then(() => {
          setCopied(true);
          setTimeout(() => setCopied(false), 2000);
        });
      }}
    >
      <Icon name={copied ? 'check' : 'copy'} size={13} /> {copied ? 'Copied' : label}
    </button>
  );
}
