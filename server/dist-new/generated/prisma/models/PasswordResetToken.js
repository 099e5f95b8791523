export {};
//# sourceMappingURL=PasswordResetToken.js.map