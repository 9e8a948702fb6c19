"""A weighted road network in networkx, with all-pairs shortest paths and centrality computed at
start-up; the main block answers route queries. Needs: networkx."""
import networkx as nx

ROADS = [("Amsterdam", "Utrecht", 45), ("Utrecht", "Arnhem", 64), ("Amsterdam", "Haarlem", 20),
         ("Haarlem", "Leiden", 32), ("Leiden", "The Hague", 19), ("The Hague", "Rotterdam", 27),
         ("Rotterdam", "Utrecht", 57), ("Rotterdam", "Breda", 52), ("Breda", "Eindhoven", 58),
         ("Eindhoven", "Arnhem", 84), ("Utrecht", "Eindhoven", 92)]

G = nx.Graph()
G.add_weighted_edges_from(ROADS, weight="km")
PATHS = dict(nx.all_pairs_dijkstra_path(G, weight="km"))
DIST = dict(nx.all_pairs_dijkstra_path_length(G, weight="km"))
CENTRALITY = nx.betweenness_centrality(G, weight="km")
TREE = nx.minimum_spanning_tree(G, weight="km")

if __name__ == "__main__":
    for a, b in [("Amsterdam", "Eindhoven"), ("Haarlem", "Breda"), ("Arnhem", "The Hague")]:
        print(f"{a} -> {b}: {DIST[a][b]} km via {' > '.join(PATHS[a][b])}")
    top = sorted(CENTRALITY.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    print([(n, round(c, 3)) for n, c in top])
    print(sorted(tuple(sorted(e)) for e in TREE.edges()), TREE.size(weight="km"))
    print(nx.is_connected(G), nx.diameter(G), sorted(d for _, d in G.degree()))
    G.remove_edge("Utrecht", "Eindhoven")
    print(nx.dijkstra_path_length(G, "Utrecht", "Eindhoven", weight="km"))
