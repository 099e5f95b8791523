/**
 * What the demo marketplace holds. `.example` is a reserved top-level domain, so these
 * addresses can never reach anyone; the passwords are public demo credentials, printed by the
 * seed and meant only for a database nobody else can reach.
 */

export const DEMO_PASSWORD = "DemoPassw0rd";
export const DEMO_ADMIN_PASSWORD = "DemoAdm1nPassw0rd";

export type UserKey = "admin" | "alice" | "bob" | "carol";

export interface DemoUser {
  readonly key: UserKey;
  readonly email: string;
  readonly username: string;
  readonly name: string;
  readonly role: "USER" | "ADMIN";
  readonly password: string;
}

export interface DemoProduct {
  readonly name: string;
  readonly description?: string;
  readonly priceCents: number;
  readonly stock: number;
}

export interface DemoMarket {
  readonly key: string;
  readonly owner: UserKey;
  readonly name: string;
  readonly description: string;
  /** CLOSED markets are created ACTIVE, take their orders, then close (CLOSED is final). */
  readonly status: "DRAFT" | "ACTIVE" | "CLOSED";
  readonly products: readonly DemoProduct[];
}

export interface DemoOrder {
  /** The buyer's idempotency key: what makes the order findable on the next run. */
  readonly key: string;
  readonly buyer: UserKey;
  readonly market: string;
  readonly items: readonly { readonly product: string; readonly quantity: number }[];
  readonly cancel?: boolean;
}

export interface DemoPost {
  readonly author: UserKey;
  readonly title: string;
  readonly content: string;
  readonly market?: string;
  readonly published: boolean;
}

export const DEMO_USERS: readonly DemoUser[] = [
  {
    key: "admin",
    email: "admin@agora.example",
    username: "demo_admin",
    name: "Demo Admin",
    role: "ADMIN",
    password: DEMO_ADMIN_PASSWORD,
  },
  {
    key: "alice",
    email: "alice@agora.example",
    username: "alice",
    name: "Alice Moreau",
    role: "USER",
    password: DEMO_PASSWORD,
  },
  {
    key: "bob",
    email: "bob@agora.example",
    username: "bob",
    name: "Bob Okafor",
    role: "USER",
    password: DEMO_PASSWORD,
  },
  {
    key: "carol",
    email: "carol@agora.example",
    username: "carol",
    name: "Carol Nguyen",
    role: "USER",
    password: DEMO_PASSWORD,
  },
];

export const DEMO_MARKETS: readonly DemoMarket[] = [
  {
    key: "farmers",
    owner: "alice",
    name: "Riverside Farmers Market",
    description: "Seasonal produce, bread and honey from farms along the river.",
    status: "ACTIVE",
    products: [
      { name: "Heirloom tomatoes (1 kg)", priceCents: 450, stock: 120 },
      { name: "Sourdough loaf", description: "Baked the morning of the market.", priceCents: 700, stock: 40 },
      { name: "Wildflower honey (500 g)", priceCents: 1200, stock: 25 },
      { name: "Free-range eggs (dozen)", priceCents: 550, stock: 60 },
    ],
  },
  {
    key: "crafts",
    owner: "alice",
    name: "Winter Craft Fair",
    description: "Opens in December. Still being set up.",
    status: "DRAFT",
    products: [
      { name: "Hand-knit scarf", priceCents: 3500, stock: 10 },
      { name: "Beeswax candles (set of 3)", priceCents: 1800, stock: 30 },
    ],
  },
  {
    key: "vinyl",
    owner: "bob",
    name: "Vintage Vinyl Exchange",
    description: "Second-hand records, graded and cleaned.",
    status: "ACTIVE",
    products: [
      { name: "Kind of Blue (1959 pressing)", priceCents: 4500, stock: 3 },
      { name: "Abbey Road (1969 pressing)", priceCents: 3900, stock: 5 },
      { name: "Mystery crate (10 records)", priceCents: 2500, stock: 20 },
    ],
  },
  {
    key: "books",
    owner: "bob",
    name: "Summer Book Swap",
    description: "A one-weekend market, now over.",
    status: "CLOSED",
    products: [
      { name: "Paperback bundle (5 novels)", priceCents: 1500, stock: 12 },
      { name: "Signed first edition", priceCents: 8000, stock: 1 },
    ],
  },
  {
    key: "electronics",
    owner: "carol",
    name: "Makers' Electronics Bazaar",
    description: "Boards, kits and tools for hobby electronics.",
    status: "ACTIVE",
    products: [
      { name: "Microcontroller board", priceCents: 2200, stock: 50 },
      { name: "Soldering starter kit", priceCents: 3400, stock: 15 },
    ],
  },
];

export const DEMO_ORDERS: readonly DemoOrder[] = [
  {
    key: "demo-order-1",
    buyer: "carol",
    market: "farmers",
    items: [
      { product: "Heirloom tomatoes (1 kg)", quantity: 4 },
      { product: "Wildflower honey (500 g)", quantity: 1 },
    ],
  },
  {
    key: "demo-order-2",
    buyer: "bob",
    market: "farmers",
    items: [
      { product: "Sourdough loaf", quantity: 2 },
      { product: "Free-range eggs (dozen)", quantity: 1 },
    ],
  },
  {
    key: "demo-order-3",
    buyer: "alice",
    market: "vinyl",
    items: [{ product: "Kind of Blue (1959 pressing)", quantity: 1 }],
  },
  {
    key: "demo-order-4",
    buyer: "carol",
    market: "vinyl",
    items: [{ product: "Mystery crate (10 records)", quantity: 2 }],
    cancel: true,
  },
  {
    key: "demo-order-5",
    buyer: "alice",
    market: "books",
    items: [
      { product: "Paperback bundle (5 novels)", quantity: 2 },
      { product: "Signed first edition", quantity: 1 },
    ],
  },
  {
    key: "demo-order-6",
    buyer: "bob",
    market: "electronics",
    items: [{ product: "Microcontroller board", quantity: 3 }],
  },
];

export const DEMO_POSTS: readonly DemoPost[] = [
  {
    author: "admin",
    title: "Welcome to the Agora demo",
    content: "Everything here is demo data: log in as alice, bob or carol and try the procedures.",
    published: true,
  },
  {
    author: "alice",
    title: "Tomatoes are in season",
    content: "The first heirloom tomatoes of the year are in. Come early on Saturday.",
    market: "farmers",
    published: true,
  },
  {
    author: "alice",
    title: "Craft fair stall plan",
    content: "Draft: twelve stalls, candles near the entrance.",
    market: "crafts",
    published: false,
  },
  {
    author: "bob",
    title: "New arrivals: jazz classics",
    content: "Three copies of Kind of Blue just came in, all graded VG+ or better.",
    market: "vinyl",
    published: true,
  },
  {
    author: "bob",
    title: "Thanks for a great swap",
    content: "The book swap is closed. Thank you all, see you next summer.",
    market: "books",
    published: true,
  },
  {
    author: "carol",
    title: "Restock notes",
    content: "Unpublished: order more soldering kits before the next workshop.",
    published: false,
  },
];
