/**
 * Domain errors: what services throw. They know nothing of HTTP or tRPC; one mapping in
 * `trpc/errors.ts` turns them into tRPC codes.
 */
export abstract class DomainError extends Error {
  abstract readonly kind:
    | "NOT_FOUND"
    | "CONFLICT"
    | "FORBIDDEN"
    | "UNAUTHORIZED"
    | "BAD_REQUEST"
    | "TOO_MANY_REQUESTS"
    | "SERVICE_UNAVAILABLE";
}

export class NotFoundError extends DomainError {
  readonly kind = "NOT_FOUND";
  constructor(what: string) {
    super(`${what} not found`);
  }
}

export class ConflictError extends DomainError {
  readonly kind = "CONFLICT";
}

/** What an order asked of a product that has less in stock: `data.stock` of its CONFLICT. */
export interface StockShortage {
  productId: string;
  /** Units left when the order was refused. */
  available: number;
  /** Units the order line asked for. */
  requested: number;
}

/** An order line asks for more than is left: the error carries the line, for a UI to mark it. */
export class StockConflictError extends ConflictError {
  constructor(
    readonly shortage: StockShortage,
    productName: string | null,
  ) {
    super(
      `Not enough stock for product ${shortage.productId}${productName === null ? "" : ` "${productName}"`}: ` +
        `${shortage.available} left, ${shortage.requested} requested`,
    );
  }
}

export class ForbiddenError extends DomainError {
  readonly kind = "FORBIDDEN";
  constructor(message = "You are not allowed to do this") {
    super(message);
  }
}

export class UnauthorizedError extends DomainError {
  readonly kind = "UNAUTHORIZED";
  constructor(message = "Authentication required") {
    super(message);
  }
}

/** Input that passed the schema but breaks a rule only the service can check. */
export class ValidationError extends DomainError {
  readonly kind = "BAD_REQUEST";
  constructor(readonly fieldErrors: Record<string, string[]>) {
    super(Object.values(fieldErrors).flat()[0] ?? "Invalid input");
  }
}

/** The caller holds as much of something (open event streams) as one caller may. */
export class TooManyError extends DomainError {
  readonly kind = "TOO_MANY_REQUESTS";
}

/** The server is at capacity for this kind of work; the caller should retry shortly. */
export class OverloadedError extends DomainError {
  readonly kind = "SERVICE_UNAVAILABLE";
}

/** A dependency the call needs (the database, Redis) is unreachable or too slow; retry shortly. */
export class DependencyUnavailableError extends DomainError {
  readonly kind = "SERVICE_UNAVAILABLE";
}
