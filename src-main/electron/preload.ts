import { contextBridge, ipcRenderer } from 'electron';
import { createPreloadApi } from '../ipc/desktop-bridge/preload-api';

// The renderer gets exactly one typed invoke and one subscribe; no ipcRenderer, no Node.
// The listener counting lives in the plain module (unit-tested in test/unit/desktop-bridge/).
const api = createPreloadApi(ipcRenderer);
contextBridge.exposeInMainWorld('gatehouse', {
  invoke: (command: string, input: unknown) => api.invoke(command, input),
  subscribe: (event: string, listener: (payload: unknown) => void) => api.subscribe(event, listener),
});
