import { isAgoraError } from "@agora/client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useState, type FormEvent } from "react";
import { agora } from "./agora.js";

const money = (cents: number) => `${(cents / 100).toFixed(2)}`;

export function MarketPage({ marketId, onBack }: { marketId: string; onBack: () => void }) {
  const trpc = agora.useTRPC();
  const queryClient = useQueryClient();
  const market = useQuery(trpc.markets.byId.queryOptions({ id: marketId }));
  const productsQuery = trpc.products.list.queryOptions({ marketId, limit: 100 });
  const products = useQuery(productsQuery);
  const [quantities, setQuantities] = useState<Record<string, number>>({});
  const [events, setEvents] = useState<string[]>([]);

  // Live events over SSE (the kit authenticates the stream with a single-use ticket).
  useSubscription(
    trpc.markets.onEvent.subscriptionOptions(
      { marketId },
      {
        onData: ({ data }) => {
          if (data.type === "order.placed") {
            setEvents((seen) => [
              `Order placed: market volume now ${money(data.marketVolumeCents)}`,
              ...seen,
            ]);
            void queryClient.invalidateQueries({ queryKey: productsQuery.queryKey });
          } else if (data.type === "market.updated") {
            setEvents((seen) => [`Market updated: ${data.market.name}`, ...seen]);
          }
        },
      },
    ),
  );

  const order = useMutation(
    trpc.orders.create.mutationOptions({
      onSuccess: () => {
        setQuantities({});
        void queryClient.invalidateQueries({ queryKey: productsQuery.queryKey });
      },
    }),
  );
  // A stock CONFLICT names the short line: its product, how many are left and were asked for.
  const short = isAgoraError(order.error, "CONFLICT") ? order.error.data.stock : null;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const items = Object.entries(quantities)
      .filter(([, quantity]) => quantity > 0)
      .map(([productId, quantity]) => ({ productId, quantity }));
    if (items.length > 0) order.mutate({ marketId, items });
  };

  if (market.isPending || products.isPending) return <p>Loading…</p>;
  if (market.isError) return <p role="alert">{market.error.message}</p>;
  if (products.isError) return <p role="alert">{products.error.message}</p>;
  return (
    <section>
      <button type="button" onClick={onBack}>
        ← Markets
      </button>
      <h2>{market.data.name}</h2>
      <form className="order" onSubmit={submit}>
        <table>
          <thead>
            <tr>
              <th>Product</th>
              <th>Price</th>
              <th>In stock</th>
              <th>Quantity</th>
            </tr>
          </thead>
          <tbody>
            {products.data.items.map((product) => {
              const shortHere = short?.productId === product.id ? short : null;
              return (
                <tr key={product.id} data-product={product.id} className={shortHere ? "short" : undefined}>
                  <td>{product.name}</td>
                  <td>{money(product.priceCents)}</td>
                  <td>{product.stock}</td>
                  <td>
                    <input
                      type="number"
                      min={0}
                      aria-label={`Quantity of ${product.name}`}
                      value={quantities[product.id] ?? 0}
                      onChange={(e) => setQuantities((q) => ({ ...q, [product.id]: Number(e.target.value) }))}
                    />
                    {shortHere && (
                      <span role="alert" className="stock-error">
                        Only {shortHere.available} left (you asked for {shortHere.requested})
                      </span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        <button type="submit" disabled={order.isPending}>
          Place order
        </button>
        {order.isSuccess && <p role="status">Order placed: {money(order.data.totalCents)}</p>}
        {order.error && !short && <p role="alert">{order.error.message}</p>}
      </form>
      <h3>Live</h3>
      <ul className="events">
        {events.map((line, i) => (
          <li key={events.length - i}>{line}</li>
        ))}
      </ul>
    </section>
  );
}
