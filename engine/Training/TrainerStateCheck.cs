using Engine.Checkpoints;
using Engine.Models;
using Engine.Objectives;

namespace Engine.Training;

/// <summary>A trainer_state.json checked once read: a damaged one is refused naming the key, before a resume or an
/// eval builds a model or a schedule from it.</summary>
public sealed partial record TrainerState
{
    public void Check(string file)
    {
        const string Fix = "the checkpoint is damaged; resume from another checkpoint or start the run again";
        if (Model == null || Settings == null || Tokenizer == null || Data == null || DataState == null)
            throw new FileFormatException(file, Model == null ? "model" : Settings == null ? "settings" : Tokenizer == null ? "tokenizer" : Data == null ? "data" : "data_state", "a value", "null", Fix);
        if (!Enum.IsDefined(Model.Family)) throw new FileFormatException(file, "model.family", "a model family", $"{(int)Model.Family}", Fix);
        if (!Enum.IsDefined(Objective)) throw new FileFormatException(file, "objective", "a training objective", $"{(int)Objective}", Fix);
        ConfigLimits.Checked(Model, file);
        try { Settings.Validate(); }
        catch (EngineException e) { throw new FileFormatException(file, "settings", "settings a run can train with", e.Text?.Render(o => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(o.ToString())) ?? e.Message, Fix, e); }
        if (Step < 0) throw new FileFormatException(file, "step", "0 or more", $"{Step}", Fix);
        if (TokensSeen < 0) throw new FileFormatException(file, "tokens_seen", "0 or more", $"{TokensSeen}", Fix);
        if (SkippedSteps < 0 || LossScaleCleanSteps < 0) throw new FileFormatException(file, SkippedSteps < 0 ? "skipped_steps" : "loss_scale_clean_steps", "0 or more", $"{Math.Min(SkippedSteps, LossScaleCleanSteps)}", Fix);
        if (LossScale is float scale && !(scale > 0 && float.IsFinite(scale))) throw new FileFormatException(file, "loss_scale", "a positive finite number", $"{scale}", Fix);
        if (Sources != null && Sources.Any(s => s == null || s.Path == null || !(s.Weight > 0) || double.IsInfinity(s.Weight)))
            throw new FileFormatException(file, "sources", "data sources with a path and a positive weight", "one that is null or has none", Fix);
        if (EvalSets != null && EvalSets.Any(s => s == null || s.Name == null || s.Path == null))
            throw new FileFormatException(file, "eval_sets", "named validation sets with a path", "one that is null or has none", Fix);
    }
}
