namespace Engine; public static class Placeholder {}
