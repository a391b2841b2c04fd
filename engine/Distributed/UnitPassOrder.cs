namespace Engine.Distributed;

/// <summary>
/// The order in which the last forward and the last backward pass gathered FSDP's units, learnt as the passes run,
/// so the store can guess the next unit and gather it ahead. The guess is by position in the pass, since a unit may
/// come twice in one pass (a tied table at both ends); a pass that goes elsewhere forgets the rest of the old order.
/// </summary>
sealed class UnitPassOrder
{
    // [0]: forward, [1]: backward.
    readonly List<int>[] passOrder = [new(), new()];
    int position;

    /// <summary>The current pass is a backward pass (it has opened a gradient since the forward began).</summary>
    public bool InBackward { get; private set; }

    List<int> Order => passOrder[InBackward ? 1 : 0];

    /// <summary>A pass starts; returns the unit the last pass of its kind gathered first, or −1.</summary>
    public int Start(bool backward)
    {
        InBackward = backward;
        position = 0;
        return Order.Count > 0 ? Order[0] : -1;
    }

    /// <summary>Unit u was just gathered: notes it at this place in the pass and returns the unit that came next
    /// last time, or −1.</summary>
    public int Follow(int u)
    {
        var order = Order;
        if (position < order.Count && order[position] != u) order.RemoveRange(position, order.Count - position);
        if (position == order.Count) order.Add(u);
        position++;
        return position < order.Count ? order[position] : -1;
    }
}
