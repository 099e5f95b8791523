export {};
//# sourceMappingURL=OrderItem.js.map