import type { PasteCallback, SignInFlow } from '../types.js';
import { runDeviceFlow } from './device-flow.js';
import type { FlowContext, FlowResult } from './flow-context.js';
import { runLoopbackFlow } from './loopback-flow.js';
import { runPasteFlow } from './paste-flow.js';

/** Runs the sign-in flow the host chose: loopback (default), device, or paste-back. */
export function runFlow(
  flow: FlowContext,
  kind: SignInFlow | undefined,
  paste: PasteCallback | undefined,
): Promise<FlowResult> {
  switch (kind ?? 'loopback') {
    case 'device':
      return runDeviceFlow(flow);
    case 'paste':
      return runPasteFlow(flow, paste as PasteCallback);
    default:
      return runLoopbackFlow(flow);
  }
}
