import { useState } from 'react';
import type { KubeconfigSource } from '../../../src-shared/contract/clusters';
import { client } from '../../client';
import { useCluster } from '../../stores/cluster';
import { toastError, toastSuccess } from '../../stores/toasts';
import { Icon } from '../../shell/Icon';

const ORIGIN: Record<KubeconfigSource['origin'], string> = { env: 'KUBECONFIG', default: '~/.kube/config', added: 'added here' };

/** The kubeconfig files read, with the reason a file cannot be used; add a file by path (or native dialog on desktop). */
export function SourcesCard({ sources, electron }: { sources: KubeconfigSource[]; electron: boolean }) {
  const [path, setPath] = useState('');
  const [busy, setBusy] = useState(false);

  const add = async (p: string) => {
    setBusy(true);
    try {
      const list = await client.invoke('clusters.addKubeconfig', { path: p });
      useCluster.setState({ list });
      setPath('');
      toastSuccess('Kubeconfig added', p);
    } catch (e) {
      toastError('Could not add the kubeconfig', e);
    } finally {
      setBusy(false);
    }
  };
  const browse = async () => {
    try {
      const { paths } = await client.invoke('system.openFileDialog', {
        title: 'Add a kubeconfig file',
        filters: [{ name: 'Kubeconfig', extensions: ['yaml', 'yml', 'conf', 'config', '*'] }],
      });
      if (paths[0]) await add(paths[0]);
    } catch (e) {
      toastError('Could not open the file dialog', e);
    }
  };
  const remove = async (p: string) => {
    try {
      useCluster.setState({ list: await client.invoke('clusters.removeKubeconfig', { path: p }) });
    } catch (e) {
      toastError('Could not remove the kubeconfig', e);
    }
  };

  return (
    <section className="card" data-testid="sources">
      <header className="card-header">
        <h2>Kubeconfig files</h2>
      </header>
      <div className="card-body flush">
        <table className="table">
          <thead>
            <tr>
              <th>File</th>
              <th>From</th>
              <th className="num">Contexts</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {sources.map((s) => (
              <tr key={s.path}>
                <td className="mono">{s.path}</td>
                <td>{ORIGIN[s.origin]}</td>
                <td className="num">{s.contextCount}</td>
                <td>{s.error ? <span style={{ color: 'var(--err)' }}>{s.error}</span> : <span className="badge badge-ok">read</span>}</td>
                <td style={{ textAlign: 'right' }}>
                  {s.origin === 'added' && (
                    <button className="btn btn-small" onClick={() => void remove(s.path)}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form
        className="card-body row"
        style={{ borderTop: '1px solid var(--border)' }}
        onSubmit={(e) => {
          e.preventDefault();
          if (path.trim()) void add(path.trim());
        }}
      >
        <Icon name="folder" />
        <input
          type="text"
          placeholder="/absolute/path/to/kubeconfig"
          value={path}
          onChange={(e) => setPath(e.target.value)}
          style={{ flex: 1 }}
          aria-label="Kubeconfig path"
          data-testid="kubeconfig-path"
        />
        {electron && (
          <button type="button" className="btn" onClick={() => void browse()}>
            Browse…
          </button>
        )}
        <button type="submit" className="btn btn-primary" disabled={busy || !path.trim()}>
          <Icon name="plus" size={14} /> Add kubeconfig
        </button>
      </form>
    </section>
  );
}
