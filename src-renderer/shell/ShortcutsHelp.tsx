import type { NavEntry } from '../nav';
import { Modal } from '../components/Modal';

export function ShortcutsHelp({ entries, onClose }: { entries: NavEntry[]; onClose(): void }) {
  const visible = entries.filter((e) => !e.hidden);
  const rows: [string, string][] = [
    ...visible.map((e): [string, string] => [`g ${e.key}`, `Go to ${e.label}`]),
    ...visible.slice(0, 9).map((e, i): [string, string] => [`Ctrl+${i + 1}`, e.label]),
    ['↑ / ↓', 'Move in the sidebar and menus'],
    ['/', 'Search on the current page'],
    ['Shift+T', 'Switch light / dark theme'],
    ['?', 'This help'],
    ['Esc', 'Close a dialog or menu'],
  ];
  return (
    <Modal title="Keyboard shortcuts" onClose={onClose} testId="shortcuts-help">
      <table className="kv-table">
        <tbody>
          {rows.map(([k, v]) => (
            <tr key={k + v}>
              <td>
                <kbd>{k}</kbd>
              </td>
              <td>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Modal>
  );
}
