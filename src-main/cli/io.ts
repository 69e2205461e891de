import readline from 'node:readline';
import { ContractError, type ContractErrorShape } from '../../src-shared/contract';

// What the CLI needs before (or without) the engine: loading the engine is the slow part of a start.

/** A failed command as the CLI reports it: the contract's error shape. */
export class CommandFailed extends Error {
  constructor(readonly error: ContractErrorShape) {
    super(error.message);
  }
}

/** Where `gatehouse login` keeps a token in the secret store (OS keychain, else the encrypted file), per context. */
export const keychainTokenKey = (contextId: string) => `cli-token:${contextId}`;

/** Reads one line from the terminal; `hidden` does not echo it (passwords, tokens). */
export function prompt(question: string, hidden = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (hidden) {
      const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput.bind(rl);
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (s.startsWith(question)) write(s);
      };
    }
    rl.question(question, (answer) => {
      rl.close();
      if (hidden) process.stderr.write('\n');
      resolve(answer);
    });
    rl.on('SIGINT', () => {
      rl.close();
      reject(new ContractError('VALIDATION', 'Cancelled.'));
    });
  });
}

/** Reads all of stdin (a piped token or license). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
