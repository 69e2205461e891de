import { ContractError } from '../../../src-shared/contract';
import { errorText, type SagaOutcome } from '../core/saga';

/** A saga that did not complete becomes one error naming the step, why, and what it left. */
export function finish<C>(outcome: SagaOutcome<C>, doing: string): C {
  if (!outcome.error && outcome.ctx) return outcome.ctx;
  const op = outcome.operation;
  const cause = outcome.error instanceof ContractError ? outcome.error : null;
  const left =
    (op.status === 'rolled-back'
      ? 'Everything it had done was rolled back.'
      : `It is listed under Unfinished operations (${op.id}): resume it${op.canRollback ? ' or roll it back' : ''} once the cause is fixed.`) +
    (op.notices.length ? ` ${op.notices.join(' ')}` : '');
  throw new ContractError(
    cause?.code ?? 'INTERNAL',
    `${doing} failed at step "${op.failedStep ?? '?'}": ${cause?.message ?? errorText(outcome.error)} ${left}`,
    {
      ...(cause?.details ?? {}),
      operationId: op.id,
      step: op.failedStep,
      status: op.status,
    },
  );
}
