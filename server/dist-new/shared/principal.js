export function isAdmin(principal) {
    return principal?.role === "ADMIN";
}
//# sourceMappingURL=principal.js.map