import { useInfiniteQuery } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { agora } from "./agora.js";

/** Active markets, 10 at a time, the next page loading when the end of the list scrolls into view. */
export function Markets({ onOpen }: { onOpen: (id: string) => void }) {
  const trpc = agora.useTRPC();
  const markets = useInfiniteQuery(
    trpc.markets.list.infiniteQueryOptions(
      { status: "ACTIVE", limit: 10 },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );
  const end = useRef<HTMLLIElement>(null);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = markets;
  useEffect(() => {
    const sentinel = end.current;
    if (!sentinel || !hasNextPage) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !isFetchingNextPage) void fetchNextPage();
    });
    observer.observe(sentinel);
    return () => observer.disconnect();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  if (markets.isPending) return <p>Loading markets…</p>;
  if (markets.isError) return <p role="alert">Could not load markets: {markets.error.message}</p>;
  const items = markets.data.pages.flatMap((page) => page.items);
  return (
    <section>
      <h2>Markets ({markets.data.pages[0]?.total ?? 0})</h2>
      <ul className="markets">
        {items.map((market) => (
          <li key={market.id}>
            <button type="button" onClick={() => onOpen(market.id)}>
              {market.name}
            </button>
          </li>
        ))}
        <li ref={end} className="end">
          {isFetchingNextPage ? "Loading more…" : hasNextPage ? "" : "That's all."}
        </li>
      </ul>
    </section>
  );
}
