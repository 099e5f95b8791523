import { useState } from "react";
import { agora } from "./agora.js";
import { Login } from "./Login.js";
import { MarketPage } from "./MarketPage.js";
import { Markets } from "./Markets.js";

export function App() {
  // Re-renders on sign-in, sign-out and an expired session (the kit clears the tokens).
  const session = agora.useSession();
  return session ? <SignedIn /> : <Login />;
}

/** Unmounted on sign-out, so the next user starts from the list of markets. */
function SignedIn() {
  const [marketId, setMarketId] = useState<string | null>(null);
  return (
    <main>
      <header>
        <h1>Agora</h1>
        <button type="button" onClick={() => void agora.logout()}>
          Sign out
        </button>
      </header>
      {marketId ? (
        <MarketPage marketId={marketId} onBack={() => setMarketId(null)} />
      ) : (
        <Markets onOpen={setMarketId} />
      )}
    </main>
  );
}
