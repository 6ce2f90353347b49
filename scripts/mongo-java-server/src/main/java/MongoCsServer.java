// mongo-java-server with its oplog on, so it answers change streams (`$changeStream`), for the tests
// of the change-stream follower. Usage: java -jar mongo-cs-server.jar <port>. Binds 127.0.0.1 only;
// all data is in memory and gone when it stops. Stops on SIGTERM / SIGINT.
import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.backend.memory.MemoryDatabase;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.BsonTimestamp;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.oplog.IndexedOplog;
import de.bwaldvogel.mongo.oplog.Oplog;
import de.bwaldvogel.mongo.oplog.OplogPosition;
import io.netty.channel.Channel;
import io.netty.channel.SingleThreadEventLoop;
import java.net.InetSocketAddress;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

public final class MongoCsServer {
  // The backend's default (3.6, wire version 7) is refused by the Node.js driver 7.x, which needs
  // at least wire version 9; the server claims 5.0 (wire version 13), which the driver accepts.
  private static final MongoVersion VERSION = new MongoVersion() {
    @Override
    public List<Integer> getVersionArray() {
      return List.of(5, 0, 0);
    }

    @Override
    public int getWireVersion() {
      return 13;
    }
  };

  /**
   * The memory backend with the oplog of {@link IndexedOplog} and the indexes of {@link Database},
   * whose change-stream batches carry a postBatchResumeToken as MongoDB's do (without it a stream
   * that has seen no event has no resume token, and the driver keeps an old one after a batch of
   * events), and whose read of a stream without events waits up to its maxTimeMS for one, as
   * MongoDB's does with maxAwaitTimeMS (1.46.0 answers such a read at once; so does this one when
   * its connection shares its event loop with another).
   */
  static final class Backend extends MemoryBackend {
    private final Set<Long> changeStreamCursors = ConcurrentHashMap.newKeySet();
    private IndexedOplog oplog;

    @Override
    public Document handleCommand(Channel channel, String database, String command, Document query) {
      boolean opens = command.equals("aggregate") && query.get("pipeline") instanceof List<?> stages && !stages.isEmpty()
          && stages.get(0) instanceof Document first && first.containsKey("$changeStream");
      boolean continues = command.equals("getMore") && query.get("getMore") instanceof Long id && changeStreamCursors.contains(id);
      if (!opens && !continues) return super.handleCommand(channel, database, command, query);
      // A waiting read holds its connection's event loop: it waits only on a loop of its own.
      boolean mayWait = continues && query.get("maxTimeMS") instanceof Number && channel.eventLoop() instanceof SingleThreadEventLoop loop
          && loop.registeredChannels() == 1;
      long deadline = System.nanoTime() + (mayWait ? ((Number) query.get("maxTimeMS")).longValue() * 1_000_000 : 0);
      while (true) {
        // Read before the batch is made: every event up to it is then in the batch, or not this stream's.
        BsonTimestamp before = oplog.lastTime();
        Document reply = super.handleCommand(channel, database, command, query);
        if (!(reply.get("cursor") instanceof Document cursor)) return reply;
        if (opens && cursor.get("id") instanceof Long id && id != 0) changeStreamCursors.add(id);
        Object batch = cursor.containsKey("firstBatch") ? cursor.get("firstBatch") : cursor.get("nextBatch");
        if (!(batch instanceof List<?> events)) return reply;
        if (events.isEmpty() && System.nanoTime() < deadline && awaitEvent(before, deadline)) continue;
        Object token = events.isEmpty() ? new Document("_data", new OplogPosition(before).toHexString())
            : ((Document) events.get(events.size() - 1)).get("_id");
        cursor.put("postBatchResumeToken", token);
        return reply;
      }
    }

    private boolean awaitEvent(BsonTimestamp after, long deadline) {
      try {
        return oplog.awaitAfter(after, deadline);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }

    @Override
    protected Oplog createOplog() {
      oplog = new IndexedOplog(this, getCursorRegistry());
      return oplog;
    }

    @Override
    public MemoryDatabase openOrCreateDatabase(String name) {
      return new Database(name, getCursorRegistry());
    }
  }

  /** A database whose single-field indexes that are not unique are used by queries (1.46.0 ignores them). */
  static final class Database extends MemoryDatabase {
    Database(String name, CursorRegistry cursors) {
      super(name, cursors);
    }

    @Override
    protected Index<Integer> openOrCreateSecondaryIndex(String collection, String name, List<IndexKey> keys, boolean sparse) {
      return keys.size() == 1 ? new EqualityIndex(name, keys, sparse) : super.openOrCreateSecondaryIndex(collection, name, keys, sparse);
    }
  }

  /**
   * A single-field index that is not unique, for queries of one value or `$in` on its field (others
   * scan): the positions of the documents of each value, by `_id`. A query on the index's field is
   * still matched against each document it finds.
   */
  static final class EqualityIndex extends Index<Integer> {
    private final Map<KeyValue, Map<Object, Integer>> positions = new HashMap<>();
    private long count;

    EqualityIndex(String name, List<IndexKey> keys, boolean sparse) {
      super(name, keys, sparse);
    }

    private boolean skips(Document document) {
      return isSparse() && !document.containsKey(keys().get(0));
    }

    @Override
    public synchronized Integer getPosition(Document document) {
      for (KeyValue key : getKeyValues(document)) {
        Map<Object, Integer> byId = positions.get(key);
        Integer position = byId == null ? null : byId.get(document.get("_id"));
        if (position != null) return position;
      }
      return null;
    }

    @Override
    public void checkAdd(Document document, MongoCollection<Integer> collection) {}

    @Override
    public synchronized void add(Document document, Integer position, MongoCollection<Integer> collection) {
      if (skips(document)) return;
      for (KeyValue key : getKeyValues(document)) {
        if (positions.computeIfAbsent(key, k -> new HashMap<>()).put(document.get("_id"), position) == null) count++;
      }
    }

    @Override
    public synchronized Integer remove(Document document) {
      Integer removed = null;
      for (KeyValue key : getKeyValues(document)) {
        Map<Object, Integer> byId = positions.get(key);
        Integer position = byId == null ? null : byId.remove(document.get("_id"));
        if (position == null) continue;
        removed = position;
        count--;
        if (byId.isEmpty()) positions.remove(key);
      }
      return removed;
    }

    @Override
    public synchronized boolean canHandle(Document query) {
      if (!query.keySet().equals(keySet())) return false;
      Object value = query.get(keys().get(0));
      if (value instanceof Document condition) return condition.keySet().equals(Set.of("$in")) && condition.get("$in") instanceof Collection<?>;
      return value != null && !(value instanceof Collection<?>) && !BsonRegularExpression.isRegularExpression(value);
    }

    @Override
    public synchronized Iterable<Integer> getPositions(Document query) {
      Object value = query.get(keys().get(0));
      Collection<?> values = value instanceof Document condition ? (Collection<?>) condition.get("$in") : List.of(value);
      TreeSet<Integer> found = new TreeSet<>();
      for (Object v : values) {
        Map<Object, Integer> byId = positions.get(new KeyValue(v).normalized());
        if (byId != null) found.addAll(byId.values());
      }
      return found;
    }

    @Override
    public synchronized long getCount() {
      return count;
    }

    @Override
    public long getDataSize() {
      return 0;
    }

    @Override
    public void checkUpdate(Document oldDocument, Document newDocument, MongoCollection<Integer> collection) {}

    @Override
    public synchronized void updateInPlace(Document oldDocument, Document newDocument, Integer position, MongoCollection<Integer> collection) {
      remove(oldDocument);
      add(newDocument, position, collection);
    }

    @Override
    public synchronized void drop() {
      positions.clear();
      count = 0;
    }
  }

  public static void main(String[] args) {
    if (args.length != 1) {
      System.err.println("usage: java -jar mongo-cs-server.jar <port>");
      System.exit(2);
    }
    int port = Integer.parseInt(args[0]);
    Backend backend = new Backend();
    backend.version(VERSION);
    MongoServer server = new MongoServer(backend);
    server.enableOplog();
    // A waiting stream read holds its connection's event loop, so it waits only on a loop no other
    // connection uses: one loop per connection (threads start on first use; connections take the
    // loops in turn), until more than 256 are open at once.
    server.bind(new InetSocketAddress("127.0.0.1", port), 1, 256);
    System.out.println("mongo-java-server listening on 127.0.0.1:" + port);
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
  }
}
