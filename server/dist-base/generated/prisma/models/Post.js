export {};
//# sourceMappingURL=Post.js.map