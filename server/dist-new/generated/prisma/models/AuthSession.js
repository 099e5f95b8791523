export {};
//# sourceMappingURL=AuthSession.js.map