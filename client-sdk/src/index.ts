export {
  createAgoraClient,
  MAX_BATCH_SIZE,
  MAX_URL_LENGTH,
  type AgoraClient,
  type AgoraClientOptions,
} from "./client.js";
export {
  agoraErrorCode,
  isAgoraError,
  type AgoraError,
  type AgoraErrorCode,
  type AgoraErrorData,
  type AgoraErrorWithCode,
} from "./errors.js";
export type { EventSourceConstructor } from "./event-source.js";
export type {
  AppRouter,
  MaybePromise,
  RouterInputs,
  RouterOutputs,
  SubscriptionEvent,
  Tokens,
} from "./types.js";
