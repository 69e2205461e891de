import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

// The renderer gets exactly one typed invoke and one subscribe; no ipcRenderer, no Node.
contextBridge.exposeInMainWorld('gatehouse', {
  invoke: (command: string, input: unknown) => ipcRenderer.invoke('gatehouse:invoke', command, input),
  subscribe: (event: string, listener: (payload: unknown) => void) => {
    const channel = `gatehouse:event:${event}`;
    const wrapped = (_e: IpcRendererEvent, payload: unknown) => listener(payload);
    ipcRenderer.on(channel, wrapped);
    ipcRenderer.send('gatehouse:subscribe', event);
    return () => {
      ipcRenderer.removeListener(channel, wrapped);
    };
  },
});
