/**
 * Domain errors: what services throw. They know nothing of HTTP or tRPC; one mapping in
 * `trpc/errors.ts` turns them into tRPC codes.
 */
export class DomainError extends Error {
}
export class NotFoundError extends DomainError {
    kind = "NOT_FOUND";
    constructor(what) {
        super(`${what} not found`);
    }
}
export class ConflictError extends DomainError {
    kind = "CONFLICT";
}
export class ForbiddenError extends DomainError {
    kind = "FORBIDDEN";
    constructor(message = "You are not allowed to do this") {
        super(message);
    }
}
export class UnauthorizedError extends DomainError {
    kind = "UNAUTHORIZED";
    constructor(message = "Authentication required") {
        super(message);
    }
}
/** Input that passed the schema but breaks a rule only the service can check. */
export class ValidationError extends DomainError {
    fieldErrors;
    kind = "BAD_REQUEST";
    constructor(fieldErrors) {
        super(Object.values(fieldErrors).flat()[0] ?? "Invalid input");
        this.fieldErrors = fieldErrors;
    }
}
//# sourceMappingURL=errors.js.map