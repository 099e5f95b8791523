export {};
//# sourceMappingURL=Order.js.map