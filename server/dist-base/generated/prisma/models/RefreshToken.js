export {};
//# sourceMappingURL=RefreshToken.js.map