export {};
//# sourceMappingURL=Market.js.map