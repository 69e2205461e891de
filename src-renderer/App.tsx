import { useEffect, useState } from 'react';
import { connectClient } from './client/transports';

const client = connectClient();

export function App() {
  const [info, setInfo] = useState<string>('connecting…');
  useEffect(() => {
    client.invoke('system.info', {}).then(
      (i) => setInfo(`Gatehouse ${i.version} (${i.mode})`),
      (e: Error) => setInfo(e.message),
    );
  }, []);
  return <main data-testid="app">{info}</main>;
}
