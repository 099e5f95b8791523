export const userViewSelect = {
    id: true,
    email: true,
    username: true,
    name: true,
    role: true,
    createdAt: true,
};
export function toUserView(user) {
    return {
        id: user.id,
        email: user.email,
        username: user.username,
        name: user.name,
        role: user.role,
        createdAt: user.createdAt,
    };
}
/** The public view of a user; the email only for that user ("self") and admins. */
export function toUserPublic(user, viewer) {
    const seesEmail = viewer === "self" ||
        (viewer !== null && (viewer.role === "ADMIN" || (viewer.kind === "user" && viewer.id === user.id)));
    return {
        id: user.id,
        username: user.username,
        name: user.name,
        role: user.role,
        createdAt: user.createdAt,
        ...(seesEmail ? { email: user.email } : {}),
    };
}
//# sourceMappingURL=presenter.js.map